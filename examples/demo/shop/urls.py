from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("counter/", views.counter, name="counter"),
    path("counter/reset/", views.reset_counter, name="reset-counter"),
    path("primes/<int:limit>/", views.primes, name="primes"),
    path("prices/", views.prices, name="prices"),
    path("prices/forget/", views.forget_prices, name="forget-prices"),
    path("banner/", views.banner, name="banner"),
    path("info/", views.info, name="info"),
]
