"""The editors' admin pages beyond CRUD, as class-based views served by the editorial
ModelAdmins (see `editorial.views.urls`): dashboard, lookups, preview, publishing, experiments."""
