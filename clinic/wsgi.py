import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
application = get_wsgi_application()
# Import every view module and index the URL names now, as the worker starts, rather
# than in its first request: on a busy server that request waited a second or more
# (the URL configuration imports the API schema's machinery and every app's views).
get_resolver().reverse_dict  # noqa: B018 - the property's side effect is the point
