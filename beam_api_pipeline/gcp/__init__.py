"""Google Cloud clients, built in one place so that tests can point them at local emulators."""
