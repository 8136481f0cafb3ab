using System.Globalization;
using Segmentation.Rules.Simulation;

namespace Segmentation.Cli.Simulation;

/// <summary>The report as plain text tables for a terminal: segments, exclusive groups, messages per channel.</summary>
internal static class SimulationTable
{
    public static void Write(SimulationReport report, TextWriter output)
    {
        var period = report.Scope == "snapshot"
            ? $"snapshot at {Instant(report.To)}"
            : $"replay {Instant(report.From)} .. {Instant(report.To)} ({report.Days} days)";
        output.WriteLine($"{period}: {N(report.Customers)} customers, {N(report.Evaluations.Candidate)} evaluations");
        output.WriteLine($"candidate {report.Candidate.File} ({report.Candidate.Fingerprint[..12]})" +
            (report.Baseline is { } baseline ? $" vs baseline {baseline.File} ({baseline.Fingerprint[..12]})" : ", no baseline"));
        output.WriteLine();

        var hasBaseline = report.Baseline is not null;
        string[] header = hasBaseline
            ? ["segment", "group", "channel", "holders", "entries", "exits", "entries/day", "blocked: held by", "cooldown", "baseline holders", "would enter", "would leave"]
            : ["segment", "group", "channel", "holders", "entries", "exits", "entries/day", "blocked: held by", "cooldown"];
        var rows = report.Segments.Select(s =>
        {
            var name = s.InCandidate ? s.Segment : $"{s.Segment} (not in candidate)";
            string[] cells =
            [
                name, s.Group ?? "-", s.Channel ?? "-", N(s.HoldersAtEnd), N(s.Entries), N(s.Exits), PerDay(s.Entries, report.Days),
                s.Blocked.HeldBy.Count == 0 ? "-" : string.Join(", ", s.Blocked.HeldBy.Select(h => $"{h.Key} {N(h.Value)}")),
                N(s.Blocked.Cooldown),
            ];
            return hasBaseline
                ? [.. cells, N(s.Baseline!.HoldersAtEnd), N(s.WouldEnter!.Count), N(s.WouldLeave!.Count)]
                : cells;
        }).ToList();
        WriteTable(output, header, rows);

        foreach (var group in report.Groups)
        {
            var contacts = group.ContactsPerCustomer;
            output.WriteLine();
            output.WriteLine($"group {group.Group}: {N(contacts.Total)} contacts to {N(contacts.Contacted)} of {N(contacts.Customers)} customers; " +
                $"per customer median {contacts.Median}, p95 {contacts.P95}, max {contacts.Max}; " +
                $"per day {PerDay(contacts.Total, report.Days)} (peak {N(group.ContactsPerDay.Values.DefaultIfEmpty().Max())})");
            foreach (var overlap in group.Overlaps)
            {
                output.WriteLine($"  overlap {string.Join(" + ", overlap.Segments)}: {N(overlap.Customers)} customers qualified for both at once" +
                    $" (e.g. {string.Join(", ", overlap.Examples.Take(5))})");
            }
        }

        if (report.Messages.Count > 0)
        {
            output.WriteLine();
            WriteTable(
                output,
                hasBaseline ? ["channel", "messages", "per day", "peak day", "baseline messages"] : ["channel", "messages", "per day", "peak day"],
                [.. report.Messages.Select(m =>
                {
                    var peak = m.PerDay.OrderByDescending(d => d.Value).ThenBy(d => d.Key, StringComparer.Ordinal).FirstOrDefault();
                    string[] cells = [m.Channel, N(m.Total), PerDay(m.Total, report.Days), peak.Key is null ? "-" : $"{peak.Key} ({N(peak.Value)})"];
                    return hasBaseline ? [.. cells, N(m.BaselineTotal ?? 0)] : cells;
                })]);
        }

        var changes = report.Segments.Where(s => s.WouldEnter is { Count: > 0 } || s.WouldLeave is { Count: > 0 }).ToList();
        if (changes.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("against the baseline:");
            foreach (var segment in changes)
            {
                Diff(output, segment.Segment, "would enter", segment.WouldEnter!);
                Diff(output, segment.Segment, "would leave", segment.WouldLeave!);
            }
        }
    }

    private static void Diff(TextWriter output, string segment, string verb, CustomerList customers)
    {
        if (customers.Count > 0)
        {
            var more = customers.Count > 5 ? ", ..." : string.Empty;
            output.WriteLine($"  {segment}: {N(customers.Count)} {verb} ({string.Join(", ", customers.Customers.Take(5))}{more})");
        }
    }

    private static void WriteTable(TextWriter output, string[] header, IReadOnlyList<string[]> rows)
    {
        var widths = header.Select((title, column) => rows.Select(row => row[column].Length).Append(title.Length).Max()).ToArray();
        var numeric = header.Select((_, column) => rows.Count > 0 && rows.All(row => row[column] == "-" || IsNumber(row[column]))).ToArray();
        void Line(string[] cells) => output.WriteLine(string.Join("  ", cells.Select((cell, column) =>
            numeric[column] ? cell.PadLeft(widths[column]) : cell.PadRight(widths[column]))).TrimEnd());
        Line(header);
        output.WriteLine(string.Join("  ", widths.Select(width => new string('-', width))));
        foreach (var row in rows)
        {
            Line(row);
        }
    }

    private static bool IsNumber(string cell) => double.TryParse(cell, NumberStyles.Number, CultureInfo.InvariantCulture, out _);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>An average per day, with two significant digits below 1 so a rare event does not show as 0.</summary>
    private static string PerDay(long total, int days)
    {
        var perDay = total / (double)Math.Max(1, days);
        return perDay.ToString(perDay >= 1 ? "#,0.##" : "G2", CultureInfo.InvariantCulture);
    }

    private static string Instant(DateTimeOffset at) => Rules.Evaluation.Value.FormatTimestamp(at);
}
