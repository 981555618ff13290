"""The signed-in person's own notifications (DESIGN §10: GET /api/v1/me/notifications/)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from .serializers import NotificationListQuerySerializer, NotificationSerializer, ReadAllSerializer


class NotificationList(generics.ListAPIView):
    """Newest first, paginated; `?unread=true` for the unread ones only."""

    permission_classes = [IsAuthenticated]
    serializer_class = NotificationSerializer

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="only unread (true) or read (false)")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = NotificationListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.notifications_for_user(self.request.user, unread=query.validated_data.get("unread"))


class NotificationRead(APIView):
    """Mark one of your notifications read; another person's is a 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: NotificationSerializer})
    def post(self, request, pk):
        notification = services.notification_mark_read(notification_id=pk, user=request.user)
        return Response(NotificationSerializer(notification).data)


class NotificationReadAll(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: ReadAllSerializer})
    def post(self, request):
        return Response({"updated": services.notifications_mark_all_read(user=request.user)})
