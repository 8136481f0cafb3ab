using Marten;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Membership;

/// <summary>How far the one-time fill of the schedule from the profiles has come (the last customer id done).</summary>
public sealed class ScheduleBackfill
{
    public const string DocumentId = "schedule";

    public string Id { get; set; } = DocumentId;
    public string After { get; set; } = "";
    public long Customers { get; set; }
    public bool Done { get; set; }
}

/// <summary>
/// Fills <see cref="CustomerSchedule"/> once from the profiles of a deployment that stored customers before the
/// schedule existed (for a new one it finds nothing and is done at once): pages of profiles in id order, each page's
/// rows and the position in one transaction, so a restart resumes. Rows a decision wrote meanwhile are kept.
/// </summary>
public sealed class CustomerScheduleBackfill(
    IDocumentStore store, CustomerSchedule schedule, ILogger<CustomerScheduleBackfill> logger) : BackgroundService
{
    private const int PageSize = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Run(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Filling the schedule from the profiles failed; it resumes at the next start");
        }
    }

    public async Task Run(CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        var progress = await session.LoadAsync<ScheduleBackfill>(ScheduleBackfill.DocumentId, cancellationToken) ?? new ScheduleBackfill();
        if (progress.Done) return;

        while (!progress.Done)
        {
            var after = progress.After;
            var page = await session.Query<CustomerProfile>()
                .Where(p => p.Id.CompareTo(after) > 0)
                .OrderBy(p => p.Id)
                .Take(PageSize)
                .Select(p => new ScheduledCustomer(p.Id, p.RulesetVersion, p.NextCheckAt))
                .ToListAsync(cancellationToken);
            schedule.QueueMissing(session, page);
            progress.Customers += page.Count;
            progress.After = page.Count > 0 ? page[^1].CustomerId : after;
            progress.Done = page.Count < PageSize;
            if (progress.Done && await session.LoadAsync<RulesetActivation>(RulesetActivation.DocumentId, cancellationToken) is { } activation)
                schedule.QueueActivationIfMissing(session, activation.Version, activation.ActivatedAt);
            session.Store(progress);
            await session.SaveChangesAsync(cancellationToken);
        }

        if (progress.Customers > 0) logger.LogInformation("Schedule filled from {Customers} stored profiles", progress.Customers);
    }
}

/// <summary>A customer's row in the schedule: the version of their last decision and their next check.</summary>
public sealed record ScheduledCustomer(string CustomerId, string? RulesetVersion, DateTimeOffset? NextCheckAt);
