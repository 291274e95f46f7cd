"""The demo site's own app: The Harbourtown Ledger's articles, the demo logins and the first
start's simulated experiment. Part of the repository's demo/dev site (with ``config``), never of
the installed package: a host project does not install it."""
