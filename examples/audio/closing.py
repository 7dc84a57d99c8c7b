"""The closing lines of the demo's experiment: what a reader wants at the end of the run, rounded --
end-to-end batches/s before and after (with the closed loop's interval when it measured one), the
training step's own time, the memory change and where the report is."""

from __future__ import annotations


def _rate(summary: dict) -> float | None:
    """End-to-end batches/s of a mode: batches over the mode's wall time (data loading included)."""
    return summary.get("batches_per_second")


def _peak_mb(summary: dict) -> float | None:
    peak = (summary.get("resources") or {}).get("process_memory") or {}
    return peak.get("max")


def closing_lines(results: dict, loop: dict, report_html: str | None) -> list[str]:
    """``results``: ExperimentMonitor.results with modes "baseline" and "optimization"; ``loop``: the
    closed loop's result (its ``interval`` when it has one: {speedup, lower, upper, level})."""
    base = results["modes"]["baseline"]["summary"]
    opt = results["modes"]["optimization"]["summary"]
    lines = []
    b, o = _rate(base), _rate(opt)
    if b and o:
        lines.append(f"end to end: {b:.1f} -> {o:.1f} batches/s in training ({o / b:.2f}x, one run each)")
    interval = loop.get("interval") or {}
    if interval.get("has_interval") or (interval.get("lower") is not None and interval.get("upper") is not None
                                        and interval.get("lower") != interval.get("upper")):
        level = round(100 * float(interval.get("level", 0.95)))
        lines.append(f"closed loop: {interval['speedup']:.2f}x measured, {level}% interval "
                     f"{interval['lower']:.2f}x to {interval['upper']:.2f}x over {interval.get('rounds', '?')} rounds "
                     f"({'kept' if loop.get('kept') else 'not kept'})")
    elif loop.get("measured_speedup") is not None:
        lines.append(f"closed loop: {loop['measured_speedup']:.2f}x measured, no interval (one round)"
                     f" ({'kept' if loop.get('kept') else 'not kept'})")
    else:
        lines.append(f"closed loop: plan not kept ({loop.get('reason') or 'no reason given'})")
    if loop.get("workers") is not None:
        threads = loop.get("threads_per_worker")
        lines.append(f"DataLoader workers: {loop['workers']}"
                     + (f", {threads} thread(s) each" if threads else "") + " (chosen by the closed loop)")
    bt_b, bt_o = base["batch_time"]["mean"], opt["batch_time"]["mean"]
    if bt_b and bt_o:
        lines.append(f"training step alone: {bt_b * 1e3:.1f} -> {bt_o * 1e3:.1f} ms per batch "
                     "(the model's share; the end-to-end rate above is what a run gains)")
    mb_b, mb_o = _peak_mb(base), _peak_mb(opt)
    if mb_b and mb_o:
        lines.append(f"memory peak (process tree): {mb_b:.0f} -> {mb_o:.0f} MB ({100 * (mb_o - mb_b) / mb_b:+.0f} %)")
    if report_html:
        lines.append(f"report: {report_html}")
    return lines
