using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using OpenTelemetry.Trace;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;
using Storefront.Simulator.Publishing;
using Xunit.Abstractions;

namespace Segmentation.Service.Tests.Observability;

/// <summary>One trace from the upstream publish to the downstream send, across the broker and the event log.</summary>
public sealed class TracingTests(IsolatedServers servers, ITestOutputHelper output) : IClassFixture<IsolatedServers>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_purchase_published_by_the_simulator_is_one_trace_down_to_the_notification_send()
    {
        var spans = new List<Activity>();
        var time = new FakeTimeProvider(Now);
        await using var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path },
            services: s => s.ConfigureOpenTelemetryTracerProvider(tracing => tracing
                .AddSource(Notification.Service.Sending.NotificationMetrics.MeterName)
                .AddInMemoryExporter(spans)));
        using var notification = await NotificationHost.Start(servers, time);
        await using var upstream = await UpstreamPublisher.Connect(servers);
        await using var observer = await SegmentEventObserver.Connect(servers);

        var customer = $"traced-{Guid.NewGuid():N}";
        await new SimulatorPublisher(upstream.Endpoint, TimeProvider.System, TextWriter.Null).RunAsync(
            [new OrderPurchased(Guid.NewGuid(), customer, Now.AddMinutes(-1), "o-1", 900m, "EUR")], 100, default);
        await observer.EnteredBy(customer, 1);

        var trace = await Eventually.Get(() => Task.FromResult(TraceOf(spans, customer)),
            t => t.Any(s => s.OperationName == "notification send" && ReachesRoot(t, s)),
            "the notification send span and every span above it (parents end, and are exported, after their children)");

        foreach (var span in trace.OrderBy(s => s.StartTimeUtc))
            output.WriteLine($"{span.StartTimeUtc:HH:mm:ss.ffffff} {span.Duration.TotalMilliseconds,8:0.00} ms  {span.Source.Name,-22} {span.Kind,-8} {span.DisplayName}");
        if (Environment.GetEnvironmentVariable("SEGMENTATION_TRACE_SVG") is { Length: > 0 } picture)
            await File.WriteAllTextAsync(picture, TraceWaterfall.Svg(trace));

        var publish = Single(trace, s => s.Kind == ActivityKind.Producer && s.ParentId is null, "the upstream publish (a root)");
        var consume = Single(trace, s => s.Kind == ActivityKind.Consumer && s.ParentSpanId == publish.SpanId, "the ingestion consume");
        var decide = Single(trace, s => s.OperationName == "segmentation.decide", "the decision");
        Assert.True(IsBelow(trace, decide, consume), "the decision runs inside the consume span");
        Assert.Equal("entered big_spender", decide.GetTagItem("outcome"));
        Assert.Equal(customer, decide.GetTagItem("customer.id"));
        Assert.Contains(trace, s => s.OperationName == "segmentation.evaluate" && s.ParentSpanId == decide.SpanId);
        Assert.Contains(trace, s => s.Source.Name == "Npgsql" && IsBelow(trace, s, decide));
        var relay = Single(trace, s => s.OperationName == "segmentation.relay", "the relay of SegmentEntered");
        Assert.Equal(decide.SpanId, relay.ParentSpanId);
        var relayPublish = Single(trace, s => s.Kind == ActivityKind.Producer && s.ParentSpanId == relay.SpanId, "the relay's publish");
        var send = Single(trace, s => s.OperationName == "notification send", "the notification send");
        Assert.True(IsBelow(trace, send, relayPublish), "the notification consume continues the relay's publish");
    }

    private static List<Activity> TraceOf(List<Activity> spans, string customer)
    {
        lock (spans)
        {
            var decision = spans.FirstOrDefault(s => s.OperationName == "segmentation.decide" && Equals(s.GetTagItem("customer.id"), customer));
            return decision is null ? [] : spans.Where(s => s.TraceId == decision.TraceId).ToList();
        }
    }

    private static Activity Single(List<Activity> trace, Func<Activity, bool> match, string what)
    {
        var found = trace.Where(match).ToList();
        Assert.True(found.Count == 1, $"expected one span for {what}, found {found.Count} in: " +
            string.Join(", ", trace.Select(s => $"{s.Source.Name}/{s.OperationName}/{s.Kind}")));
        return found[0];
    }

    private static bool ReachesRoot(List<Activity> trace, Activity span)
    {
        for (var current = span; current is not null; current = trace.FirstOrDefault(s => s.SpanId == current.ParentSpanId))
            if (current.ParentId is null) return true;
        return false;
    }

    private static bool IsBelow(List<Activity> trace, Activity span, Activity ancestor)
    {
        for (var current = span; current is not null; current = trace.FirstOrDefault(s => s.SpanId == current.ParentSpanId))
            if (current.ParentSpanId == ancestor.SpanId) return true;
        return false;
    }
}
