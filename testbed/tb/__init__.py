"""The stswatch testbed: a hermetic DNS + HTTPS + SMTP world on loopback, driven by scenario files."""
