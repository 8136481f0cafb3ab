using System.Diagnostics;

namespace Segmentation.Service;

/// <summary>The service's own spans, and how trace context crosses the event log.</summary>
public static class SegmentationTelemetry
{
    public const string SourceName = "Segmentation.Service";

    /// <summary>Marten event header holding the W3C trace context of the decision that appended the event.</summary>
    public const string TraceParentHeader = "traceparent";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The trace context stored with an event, if any.</summary>
    public static ActivityContext ParentFrom(IReadOnlyDictionary<string, object>? headers) =>
        headers is not null && headers.TryGetValue(TraceParentHeader, out var value)
            && ActivityContext.TryParse(value?.ToString(), null, isRemote: true, out var context)
            ? context
            : default;
}
