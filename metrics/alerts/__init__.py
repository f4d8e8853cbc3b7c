"""预警 alerts: rules from ``[[alerts]]`` evaluated after every ingestion run, on a schedule
and by ``gongzhi alerts check``; sent through apprise; one alert per rule × area × KPI ×
period, kept in the alert log (warehouse.cycle)."""

from metrics.alerts.evaluate import AlertObserver, Candidate, CheckReport, check, observers_for

__all__ = ["AlertObserver", "Candidate", "CheckReport", "check", "observers_for"]
