"""Part of the minimal Airflow stand-in (see `airflow`)."""
