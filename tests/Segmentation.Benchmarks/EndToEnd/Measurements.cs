using System.Diagnostics.Metrics;
using Segmentation.Service;

namespace Segmentation.Benchmarks.EndToEnd;

internal static class Measurements
{
    /// <summary>Calls <paramref name="record"/> with every measurement of the service's instrument of that name.</summary>
    public static MeterListener ListenTo<T>(string instrument, Action<T> record) where T : struct
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == SegmentationMetrics.MeterName && i.Name == instrument) l.EnableMeasurementEvents(i);
            },
        };
        listener.SetMeasurementEventCallback<T>((_, value, _, _) => record(value));
        listener.Start();
        return listener;
    }

    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
    }

    /// <summary>The 1-, 5- and 15-minute load averages, which show how much else the shared machine was running.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
