"""Reports for admins built from the job history: the usage report (CSV of jobs, PNG chart of points)."""

from bot.reports.usage_report import ReportRow, UsageReport, build_usage_report, daily_points, report_rows

__all__ = ["ReportRow", "UsageReport", "build_usage_report", "daily_points", "report_rows"]
