using Marten;
using Segmentation.Service.Hosting;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Membership;

/// <summary>
/// Time-triggered evaluation: finds customers whose <see cref="CustomerProfile.NextCheckAt"/> has come, or who were
/// last evaluated with another ruleset version, and re-evaluates them in batches through the same write path as a new
/// event. Several instances may sweep at once: the stream's optimistic concurrency lets one decision win and the
/// other is dropped (the winner has already caught up with the due time). Nothing is kept in memory, so a restart
/// resumes where the profiles say.
/// </summary>
public sealed class DueCustomerSweeper(
    IServiceScopeFactory scopes,
    IDocumentStore store,
    ActiveRuleset rules,
    SegmentationSettings settings,
    TimeProvider time,
    SegmentationMetrics metrics,
    ILogger<DueCustomerSweeper> logger) : BackgroundService
{
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
                logger.LogError(e, "Sweep failed; retrying at the next tick");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Evaluates every customer due now; returns how many evaluations committed.</summary>
    public async Task<int> SweepOnce(CancellationToken cancellationToken)
    {
        var attempted = new HashSet<string>(StringComparer.Ordinal);
        var committed = 0;
        while (true)
        {
            var now = time.GetUtcNow();
            var version = rules.Current.Version;
            IReadOnlyList<DueCustomer> due;
            await using (var query = store.QuerySession())
            {
                due = await query.Query<CustomerProfile>()
                    .Where(p => p.NextCheckAt <= now || p.RulesetVersion != version)
                    .OrderBy(p => p.NextCheckAt)
                    .Take(settings.SweepBatchSize)
                    .Select(p => new DueCustomer(p.Id, p.NextCheckAt, p.RulesetVersion))
                    .ToListAsync(cancellationToken);
            }

            var fresh = due.Where(d => attempted.Add(d.Id)).ToList();
            if (fresh.Count == 0) return committed;

            var outdated = fresh.Count(d => d.RulesetVersion != version);
            logger.LogDebug("Sweeping {Count} due customers at {Now}", fresh.Count, now);
            if (outdated > 0)
                logger.LogInformation("Re-evaluating {Count} customers for ruleset {Version}", outdated, version);

            foreach (var customer in fresh)
            {
                if (await Reevaluate(customer.Id, cancellationToken))
                {
                    committed++;
                    if (customer.RulesetVersion != version) metrics.CustomerReevaluated(version);
                    else if (customer.NextCheckAt is { } dueAt) metrics.SweeperLag(now - dueAt);
                }
            }

            if (due.Count < settings.SweepBatchSize) return committed;
        }
    }

    private async Task<bool> Reevaluate(string customerId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        try
        {
            return await scope.ServiceProvider.GetRequiredService<MembershipDecider>().Reevaluate(customerId, cancellationToken);
        }
        catch (JasperFx.ConcurrencyException)
        {
            // Another writer committed to this customer first, and its decision already covered the due time.
            metrics.ConcurrencyRetry();
            return false;
        }
    }

    private sealed record DueCustomer(string Id, DateTimeOffset? NextCheckAt, string? RulesetVersion);
}
