using System.Runtime.CompilerServices;
using MassTransit;
using SegmentationEvents.Contracts;

namespace Storefront.Simulator.Publishing;

public sealed record PublishSummary(long Published, TimeSpan Elapsed, bool Cancelled)
{
    public double Rate => Elapsed > TimeSpan.Zero ? Published / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Publishes events at a target rate and reports progress once a second. Each event is
/// published as its concrete contract type with MessageId = EventId, so a replay of the same
/// seed is recognisably the same messages.
/// </summary>
public sealed class SimulatorPublisher(IPublishEndpoint publisher, TimeProvider clock, TextWriter output)
{
    /// <summary>Upper bound on publishes in flight at once (they are confirmed by the broker).</summary>
    public const int MaxBatch = 256;

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(1);

    public async Task<PublishSummary> RunAsync(
        IEnumerable<ICustomerLifecycleEvent> events, double eventsPerSecond, CancellationToken cancellationToken)
    {
        var pacer = new RatePacer(clock, eventsPerSecond, MaxBatch);
        using var timer = new PeriodicTimer(Tick, clock);
        using var source = events.GetEnumerator();
        var started = clock.GetTimestamp();
        var progress = new Progress(clock, output, started);
        var batch = new List<ICustomerLifecycleEvent>(MaxBatch);
        long published = 0;
        var exhausted = false;
        var cancelled = false;

        try
        {
            while (!exhausted)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var allowance = pacer.Allowance(published);
                while (batch.Count < allowance && !(exhausted = !source.MoveNext()))
                {
                    batch.Add(source.Current);
                }

                if (batch.Count > 0)
                {
                    var counter = new StrongBox<long>();
                    try
                    {
                        await PublishBatchAsync(batch, counter, cancellationToken);
                    }
                    finally
                    {
                        published += counter.Value;
                        batch.Clear();
                    }
                }

                progress.MaybeReport(published);
                if (!exhausted && !pacer.Unlimited)
                {
                    await timer.WaitForNextTickAsync(cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cancelled = true;
        }

        return new PublishSummary(published, clock.GetElapsedTime(started), cancelled);
    }

    /// <summary>
    /// Customers are published concurrently, but one customer's events strictly in order:
    /// each waits for the broker's confirm of the previous one, so the wire order per
    /// customer is the occurrence order, as from a real upstream system.
    /// </summary>
    private Task PublishBatchAsync(List<ICustomerLifecycleEvent> batch, StrongBox<long> counter, CancellationToken cancellationToken) =>
        Task.WhenAll(batch.GroupBy(e => e.CustomerId, StringComparer.Ordinal).Select(async customerEvents =>
        {
            foreach (var message in customerEvents)
            {
                await PublishAsync(message, cancellationToken);
                Interlocked.Increment(ref counter.Value);
            }
        }));

    private Task PublishAsync(ICustomerLifecycleEvent message, CancellationToken cancellationToken) =>
        // Publish(object, ...) publishes as the runtime type (OrderPurchased, ...), not the interface.
        publisher.Publish((object)message, Pipe.Execute<PublishContext>(context => context.MessageId = message.EventId), cancellationToken);

    private sealed class Progress(TimeProvider clock, TextWriter output, long started)
    {
        private long lastAt = clock.GetTimestamp();
        private long lastCount;

        public void MaybeReport(long published)
        {
            var sinceLast = clock.GetElapsedTime(lastAt);
            if (sinceLast < ReportEvery) return;
            var total = clock.GetElapsedTime(started);
            output.WriteLine(
                $"[{total.TotalSeconds,6:F1}s] published {published,9:N0}  now {(published - lastCount) / sinceLast.TotalSeconds,8:F1}/s  avg {published / total.TotalSeconds,8:F1}/s");
            lastAt = clock.GetTimestamp();
            lastCount = published;
        }
    }
}
