using Segmentation.Service.Hosting;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Membership;

/// <summary>
/// Time-triggered evaluation: leases the customers whose next check has come, then those last decided under another
/// ruleset version than the active one (<see cref="CustomerSchedule"/>), a batch at a time, and decides each batch
/// in one transaction through the same write path as a new event. Instances lease disjoint customers, so each adds
/// throughput; a customer another writer decided first (a new event, another instance) is left out of the batch,
/// whose decision then covers the due time. Nothing is kept in memory: a restart, or another instance once a crashed
/// one's lease has run out, resumes where the schedule says.
/// </summary>
public sealed class DueCustomerSweeper(
    IServiceScopeFactory scopes,
    ActiveRuleset rules,
    CustomerSchedule schedule,
    SegmentationSettings settings,
    TimeProvider time,
    SegmentationMetrics metrics,
    ILogger<DueCustomerSweeper> logger) : BackgroundService
{
    /// <summary>This sweeper's name on the schedule rows it leases.</summary>
    public string LeaseHolder { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.SweepInterval, time);
        do
        {
            try
            {
                await SweepOnce(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Sweep failed; the customers it leased are taken again when their lease ends ({Lease})", settings.SweepLease);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Decides every customer due now (each at most once in this pass); returns how many decisions committed.</summary>
    public async Task<int> SweepOnce(CancellationToken cancellationToken)
    {
        var attempted = new HashSet<string>(StringComparer.Ordinal);
        var decided = 0;
        while (true)
        {
            var now = time.GetUtcNow();
            var version = rules.Current.Version;
            var claimed = await schedule.Claim(now, version, settings.SweepBatchSize, now + settings.SweepLease, LeaseHolder, cancellationToken);
            var fresh = claimed.Where(c => attempted.Add(c.CustomerId)).ToList();
            if (fresh.Count == 0)
            {
                if (claimed.Count > 0) await Decide([], claimed, cancellationToken);
                return decided;
            }

            var outdated = fresh.Count(c => c.RulesetVersion != version);
            logger.LogDebug("Sweeping {Count} due customers at {Now}", fresh.Count, now);
            // Progress is logged every few seconds by ReevaluationProgress, not once per batch.
            if (outdated > 0) logger.LogDebug("Re-evaluating {Count} customers for ruleset {Version}", outdated, version);

            var committed = (await Decide(fresh, claimed, cancellationToken)).ToHashSet(StringComparer.Ordinal);
            foreach (var customer in fresh.Where(c => committed.Contains(c.CustomerId)))
            {
                if (customer.RulesetVersion != version) metrics.CustomerReevaluated(version);
                else if (customer.DueAt is { } dueAt) metrics.SweeperLag(now - dueAt);
            }

            decided += committed.Count;
            if (claimed.Count < settings.SweepBatchSize) return decided;
        }
    }

    /// <summary>
    /// Decides the batch in one transaction and ends the lease on all it claimed. A customer another writer committed
    /// to first is left out and the rest is committed again: that writer decided at or after the due time.
    /// </summary>
    private async Task<IReadOnlyList<string>> Decide(IReadOnlyList<ClaimedCustomer> batch, IReadOnlyList<ClaimedCustomer> claimed, CancellationToken cancellationToken)
    {
        using var sweep = SegmentationTelemetry.Source.StartActivity("segmentation.sweep");
        sweep?.SetTag("sweep.customers", batch.Count);
        var remaining = batch.Select(c => c.CustomerId).ToList();
        var leased = claimed.Select(c => c.CustomerId).ToList();
        while (true)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                return await scope.ServiceProvider.GetRequiredService<MembershipDecider>()
                    .Reevaluate(remaining, leased, LeaseHolder, sweep?.Context ?? default, cancellationToken);
            }
            catch (Exception e) when (StreamRaces.LostRaceOn(e) is { } customerId && remaining.Remove(customerId))
            {
                metrics.ConcurrencyRetry();
            }
        }
    }
}
