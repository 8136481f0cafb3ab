using System.Diagnostics;
using System.Globalization;

namespace Segmentation.Cli.Simulation;

/// <summary>
/// A progress bar on one stderr line (redrawn in place, at most five times a second): customers simulated, of how
/// many when known, and the rate. Only used when stderr is a terminal, so redirected output stays clean.
/// </summary>
internal sealed class TerminalProgress(TextWriter error, long? total) : IProgress<long>
{
    private const int BarWidth = 30;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Lock gate = new();
    private long lastDrawn = -1;
    private long shown;

    public static TerminalProgress? ForConsole(TextWriter error, long? total) =>
        ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected ? new TerminalProgress(error, total) : null;

    public void Report(long value)
    {
        lock (gate)
        {
            shown = Math.Max(shown, value);
            if (clock.ElapsedMilliseconds - lastDrawn < 200)
            {
                return;
            }

            lastDrawn = clock.ElapsedMilliseconds;
            Draw();
        }
    }

    public void Finish()
    {
        lock (gate)
        {
            Draw();
            error.WriteLine();
        }
    }

    private void Draw()
    {
        var rate = shown / Math.Max(0.001, clock.Elapsed.TotalSeconds);
        var counts = shown.ToString("N0", CultureInfo.InvariantCulture);
        if (total is > 0 and var all)
        {
            var fraction = Math.Min(1.0, shown / (double)all);
            var filled = (int)(fraction * BarWidth);
            error.Write($"\r[{new string('#', filled)}{new string('.', BarWidth - filled)}] {fraction,4:P0} {counts}/{all.ToString("N0", CultureInfo.InvariantCulture)} customers, {rate:N0}/s ");
        }
        else
        {
            error.Write($"\r{counts} customers, {rate:N0}/s ");
        }
    }
}
