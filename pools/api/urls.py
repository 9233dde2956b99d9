from django.urls import path

from pools.api import views

urlpatterns = [
    path("pools/", views.PoolListApi.as_view(), name="api-pool-list"),
]
