"""Consignments: what a trader registers for specialized inspection and the rules its data must follow."""
