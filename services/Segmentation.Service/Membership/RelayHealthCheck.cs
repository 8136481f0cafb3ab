using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Segmentation.Service.Hosting;

namespace Segmentation.Service.Membership;

/// <summary>
/// Readiness of the outbox, whichever instance holds the relay: its progress through the event log (Marten's record of
/// the subscription) is at most <see cref="SegmentationSettings.RelayLagThreshold"/> events behind the log's last event.
/// A relay that runs nowhere falls behind as soon as events are appended, so this fails then too.
/// </summary>
internal sealed class RelayHealthCheck(IDocumentStore store, SegmentationSettings settings) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (relayed, last, behind) = await Progress(store, cancellationToken);
        var description = $"relay at event {relayed:N0} of {last:N0} ({behind:N0} behind, threshold {settings.RelayLagThreshold:N0})";
        return behind <= settings.RelayLagThreshold ? HealthCheckResult.Healthy(description) : HealthCheckResult.Unhealthy(description);
    }

    /// <summary>How far the relay has come through the event log: the figure readiness and the console show.</summary>
    public static async Task<RelayProgress> Progress(IDocumentStore store, CancellationToken cancellationToken)
    {
        var last = (await store.Advanced.FetchEventStoreStatistics(token: cancellationToken)).EventSequenceNumber;
        var relayed = (await store.Advanced.AllProjectionProgress(token: cancellationToken))
            .Where(shard => shard.ShardName.StartsWith(SegmentEventRelay.SubscriptionName, StringComparison.Ordinal))
            .Select(shard => shard.Sequence)
            .DefaultIfEmpty(0)
            .Max();
        return new RelayProgress(relayed, last, Math.Max(0, last - relayed));
    }
}

public sealed record RelayProgress(long Relayed, long Last, long Behind);
