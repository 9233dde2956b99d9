"""The app's URLs plus one trivial view: the floor of what any request costs on the same server (Django's request
handling and middleware, gunicorn, the network stack), to compare the API's figures with."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("", include("launchpad.urls")),
]
