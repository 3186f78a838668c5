"""The rules of time: due dates, working days and the production calendar."""
