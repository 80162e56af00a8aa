"""The execution report: one self-contained HTML page per run (`crawlmap report`)."""

from crawlmap.report.render import render_report, write_report

__all__ = ["render_report", "write_report"]
