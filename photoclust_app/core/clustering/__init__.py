"""Vectors -> reduced space -> clusters, representatives, suggested names and the 2-D map, and applying a clustering with stable identity."""
