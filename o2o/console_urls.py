"""The merchant console (/merchant/): each app contributes its pages to one namespace."""

from merchants.catalogue_console_urls import urlpatterns as catalogue_urls
from merchants.console_urls import urlpatterns as merchants_urls
from orders.console_urls import urlpatterns as orders_urls
from orders.redemption_console_urls import urlpatterns as redemption_urls
from payments.console_urls import urlpatterns as payments_urls

app_name = "console"
urlpatterns = [*merchants_urls, *catalogue_urls, *orders_urls, *redemption_urls, *payments_urls]
