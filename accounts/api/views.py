from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from o2o import ratelimit
from o2o.errors import Invalid

from .. import services
from .serializers import RegisteredUserSerializer, RegisterSerializer, TokenRequestSerializer, TokenSerializer


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RegisterSerializer, responses={201: RegisteredUserSerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.sign_up_guard(ip=ratelimit.client_ip(request))
        user = services.user_register(**serializer.validated_data)
        return Response(RegisteredUserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    """Exchange a username (or e-mail, or phone) and password for an API token."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = serializer.validated_data["username"]
        ip = ratelimit.client_ip(request)
        services.sign_in_guard(login=login, ip=ip)
        user = authenticate(request, username=login, password=serializer.validated_data["password"])
        if user is None:
            services.sign_in_failed(login=login, ip=ip)
            raise Invalid(_("Wrong username or password."), code="invalid_login", field="password")
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
