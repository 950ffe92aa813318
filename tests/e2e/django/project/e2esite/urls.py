"""One route: the view the test requests."""

from django.urls import path

from e2esite import views

urlpatterns = [path("hello/", views.hello)]
