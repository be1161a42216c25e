"""Jobs: starting them (JobService), running them (JobRunner: submit, poll, deliver, deadlines), the ports."""

from bot.jobs.admission import Admission, OpenAdmission, Quote, Requester
from bot.jobs.events import failure_for, log_job_event
from bot.jobs.runner import JobRunner
from bot.jobs.scheduling import FairQueue
from bot.jobs.service import JobService, QueueEntry, QueueSnapshot, QuotaErrorMapper
from bot.jobs.sink import DeliveryError, Presentation, PresentationLookup, Progress, ResultSink, Stage

__all__ = [
    "Admission",
    "DeliveryError",
    "FairQueue",
    "JobRunner",
    "JobService",
    "OpenAdmission",
    "Presentation",
    "PresentationLookup",
    "Progress",
    "QueueEntry",
    "QueueSnapshot",
    "QuotaErrorMapper",
    "Quote",
    "Requester",
    "ResultSink",
    "Stage",
    "failure_for",
    "log_job_event",
]
