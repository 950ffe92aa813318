from django.urls import path

from livesite import views

urlpatterns = [path("work/", views.work), path("health/", views.health)]
