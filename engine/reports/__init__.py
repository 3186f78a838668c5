"""What the dashboards show: stage status per school and the dashboards (and their Excel export)."""
