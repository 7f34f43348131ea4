"""Queries: turning request parameters into store filters."""

from .bbox import parse_bbox, region_from_bbox

__all__ = ["parse_bbox", "region_from_bbox"]
