from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    label = "newsrec_demo_site"
    verbose_name = "newsrec demo site"
