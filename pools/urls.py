from django.urls import path

from pools import views

urlpatterns = [
    path("", views.pool_list, name="pool-list"),
    path("healthz", views.healthz, name="healthz"),
]
