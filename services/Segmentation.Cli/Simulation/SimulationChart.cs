using System.Globalization;
using ScottPlot;
using Segmentation.Rules.Simulation;

namespace Segmentation.Cli.Simulation;

/// <summary>
/// Messages per day per segment (entries into segments with a channel), the candidate as solid lines with markers and
/// the baseline as dashed lines in the same colour, written as SVG or PNG (by the file's extension) with ScottPlot.
/// Segments that would send nothing under either ruleset are left out.
/// </summary>
internal static class SimulationChart
{
    public static void Write(SimulationReport report, string path)
    {
        var days = Days(report);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var index = 0;
        foreach (var segment in report.Segments)
        {
            var candidate = segment.Channel is null || segment.Entries == 0 ? null : segment.EntriesPerDay;
            var baseline = segment.Baseline is { Channel: not null, Entries: > 0 } b ? b.EntriesPerDay : null;
            if (candidate is null && baseline is null)
            {
                continue;
            }

            var color = palette.GetColor(index++);
            var xs = days.Select(d => d.ToDateTime(TimeOnly.MinValue).ToOADate()).ToArray();
            if (candidate is not null)
            {
                var line = plot.Add.Scatter(xs, Series(days, candidate));
                line.Color = color;
                line.LineWidth = 2;
                line.MarkerSize = days.Length > 60 ? 0 : 5;
                line.LegendText = $"{segment.Segment} ({segment.Channel})";
            }

            if (baseline is not null)
            {
                var line = plot.Add.Scatter(xs, Series(days, baseline));
                line.Color = color;
                line.LineWidth = 1.5f;
                line.LinePattern = LinePattern.Dashed;
                line.MarkerSize = 0;
                line.LegendText = $"{segment.Segment} baseline ({segment.Baseline!.Channel})";
            }
        }

        var dates = plot.Axes.DateTimeTicksBottom();
        ((ScottPlot.TickGenerators.DateTimeAutomatic)dates.TickGenerator).LabelFormatter =
            day => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        plot.Axes.Left.Label.Text = "messages per day";
        plot.Axes.Bottom.Label.Text = "day (UTC)";
        plot.Title(report.Baseline is null
            ? "Messages per day per segment"
            : "Messages per day per segment: candidate (solid) vs baseline (dashed)");
        plot.ShowLegend(Edge.Right);
        plot.Axes.Margins(0.05, 0.1);
        plot.Axes.SetLimitsY(0, Math.Max(1, MaxPerDay(report)) * 1.15);

        if (string.Equals(Path.GetExtension(path), ".png", StringComparison.OrdinalIgnoreCase))
        {
            plot.SavePng(path, 1100, 520);
        }
        else
        {
            plot.SaveSvg(path, 1100, 520);
        }
    }

    private static DateOnly[] Days(SimulationReport report)
    {
        var first = DateOnly.FromDateTime(report.From.UtcDateTime);
        return [.. Enumerable.Range(0, report.Days).Select(first.AddDays)];
    }

    private static double[] Series(DateOnly[] days, IReadOnlyDictionary<string, long> perDay) =>
        [.. days.Select(d => (double)perDay.GetValueOrDefault(d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)))];

    private static long MaxPerDay(SimulationReport report) =>
        report.Segments
            .SelectMany(s => s.EntriesPerDay.Values.Concat(s.Baseline?.EntriesPerDay.Values ?? []))
            .DefaultIfEmpty()
            .Max();
}
