"""The foundation's own endpoints: who am I, the job history every job run leaves, the workers."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring_site.api.errors import CodedValidationError
from monitoring_site.models import JobRun
from monitoring_site.roles import user_role
from monitoring_site.workers import workers_payload


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


class JobScheduleSerializer(serializers.Serializer):
    every_minutes = serializers.IntegerField(allow_null=True)
    cron = serializers.CharField(allow_null=True)


class JobStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    function = serializers.CharField()
    schedule = JobScheduleSerializer()
    last_run = serializers.DateTimeField(allow_null=True)
    last_finished = serializers.DateTimeField(allow_null=True)
    last_duration_ms = serializers.FloatField(allow_null=True)
    last_outcome = serializers.ChoiceField(choices=JobRun.Outcome.values, allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_success = serializers.DateTimeField(allow_null=True)
    next_run = serializers.DateTimeField(allow_null=True)
    lag_seconds = serializers.FloatField(help_text="How far past its due time the next run is.")
    missed_periods = serializers.IntegerField(help_text="Periods due since the last run started.")
    runs_24h = serializers.IntegerField()
    failures_24h = serializers.IntegerField()
    failing_streak = serializers.IntegerField(help_text="Latest finished runs failed in a row.")
    healthy = serializers.BooleanField(help_text="A success within two intervals.")


class WorkerProcessSerializer(serializers.Serializer):
    host = serializers.CharField()
    pid = serializers.IntegerField(allow_null=True)
    runs = serializers.IntegerField()
    last_seen = serializers.DateTimeField()


class ClusterSerializer(serializers.Serializer):
    alive = serializers.BooleanField()
    seen_within_seconds = serializers.IntegerField()
    processes = WorkerProcessSerializer(many=True)
    queue_depth = serializers.IntegerField(allow_null=True, help_text="null: broker unreachable.")


class WorkersSerializer(serializers.Serializer):
    checked_at = serializers.DateTimeField()
    jobs = JobStatusSerializer(many=True)
    cluster = ClusterSerializer()


class WorkersView(generics.GenericAPIView):
    """Every declared job (schedule, last run, next run, lag, 24-hour counts, health) and the
    worker cluster (processes seen lately, the broker's queue depth)."""

    serializer_class = WorkersSerializer
    pagination_class = None

    def get(self, request: Request) -> Response:
        return Response(WorkersSerializer(workers_payload()).data)
