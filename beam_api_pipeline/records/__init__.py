"""What happens to records between the read and the outputs: place, de-duplicate, transform, check, dead-letter."""
