"""The foundation's own endpoints: who am I, and the job history every job run leaves."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring_site.api.errors import CodedValidationError
from monitoring_site.models import JobRun
from monitoring_site.roles import user_role


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=["viewer", "operator", "admin"])
    is_superuser = serializers.BooleanField()


class MeView(generics.GenericAPIView):
    """The calling user and the role the API grants them (scripts check their token with it)."""

    serializer_class = MeSerializer
    pagination_class = None

    def get(self, request: Request) -> Response:
        role = user_role(request.user)
        data = {
            "username": request.user.get_username(),
            "role": role.group_name if role else None,
            "is_superuser": request.user.is_superuser,
        }
        return Response(MeSerializer(data).data)


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = (
            "id",
            "job",
            "started_at",
            "finished_at",
            "duration_ms",
            "outcome",
            "error",
            "result",
            "host",
            "pid",
        )


@extend_schema(
    parameters=[
        OpenApiParameter("job", str, description="Only runs of this job."),
        OpenApiParameter("outcome", str, enum=JobRun.Outcome.values),
    ]
)
class JobRunListView(generics.ListAPIView):
    """Job history, newest first: one row per run, whichever process ran it."""

    serializer_class = JobRunSerializer

    def get_queryset(self) -> QuerySet[JobRun]:
        runs = JobRun.objects.order_by("-started_at", "-id")
        job = self.request.query_params.get("job")
        if job:
            runs = runs.filter(job=job)
        outcome = self.request.query_params.get("outcome")
        if outcome:
            if outcome not in JobRun.Outcome.values:
                raise CodedValidationError(
                    f"outcome: expected one of {', '.join(JobRun.Outcome.values)}",
                    code="invalid",
                    details={"outcome": [f"'{outcome}' is not a valid outcome."]},
                )
            runs = runs.filter(outcome=outcome)
        return runs


class JobRunDetailView(generics.RetrieveAPIView):
    """One job run, by id."""

    queryset = JobRun.objects.all()
    serializer_class = JobRunSerializer
