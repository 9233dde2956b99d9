from django.urls import path

from pools import views

# The public pages live in the `web` app; this app serves only the health report.
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
]
