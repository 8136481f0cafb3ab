using System.Diagnostics;
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
                    .Select(p => new DueCustomer(p.Id, p.NextCheckAt, p.RulesetVersion, p.NextCheckSetBy))
                    .ToListAsync(cancellationToken);
            }

            var fresh = due.Where(d => attempted.Add(d.Id)).ToList();
            if (fresh.Count == 0) return committed;

            using var batch = SegmentationTelemetry.Source.StartActivity("segmentation.sweep");
            batch?.SetTag("sweep.customers", fresh.Count);
            var outdated = fresh.Count(d => d.RulesetVersion != version);
            logger.LogDebug("Sweeping {Count} due customers at {Now}", fresh.Count, now);
            if (outdated > 0)
                logger.LogInformation("Re-evaluating {Count} customers for ruleset {Version}", outdated, version);

            foreach (var customer in fresh)
            {
                if (await Reevaluate(customer, batch, cancellationToken))
                {
                    committed++;
                    if (customer.RulesetVersion != version) metrics.CustomerReevaluated(version);
                    else if (customer.NextCheckAt is { } dueAt) metrics.SweeperLag(now - dueAt);
                }
            }

            if (due.Count < settings.SweepBatchSize) return committed;
        }
    }

    /// <summary>
    /// A time-triggered decision starts a trace of its own, linked to the sweep batch and to the decision that set
    /// the timer, so following a customer's flow leads from either to the other.
    /// </summary>
    private async Task<bool> Reevaluate(DueCustomer customer, Activity? batch, CancellationToken cancellationToken)
    {
        var links = new List<ActivityLink>();
        if (batch is not null) links.Add(new ActivityLink(batch.Context));
        if (ActivityContext.TryParse(customer.NextCheckSetBy, null, isRemote: true, out var setBy)) links.Add(new ActivityLink(setBy));
        Activity.Current = null;
        using var activity = SegmentationTelemetry.Source.StartActivity(
            "segmentation.time-triggered", ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("customer.id", customer.Id);
        await using var scope = scopes.CreateAsyncScope();
        try
        {
            return await scope.ServiceProvider.GetRequiredService<MembershipDecider>().Reevaluate(customer.Id, cancellationToken);
        }
        catch (JasperFx.ConcurrencyException)
        {
            // Another writer committed to this customer first, and its decision already covered the due time.
            metrics.ConcurrencyRetry();
            return false;
        }
    }

    private sealed record DueCustomer(string Id, DateTimeOffset? NextCheckAt, string? RulesetVersion, string? NextCheckSetBy);
}
