using System.Runtime.CompilerServices;
using Marten;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;
using Segmentation.Service.Admin;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.OperatorConsole;

/// <summary>
/// The JSON the console's pages read beyond the admin API's own: the overview, a stored ruleset's YAML, a customer's
/// and recent events (a candidate's replay over the last days of the log is <c>POST /rulesets/simulate?days=N</c>).
/// </summary>
public static class ConsoleQueries
{
    public const int OverviewDays = 30;

    public static IEndpointRouteBuilder MapConsoleQueries(this IEndpointRouteBuilder app)
    {
        app.MapGet("/overview", Overview);

        app.MapGet("/rulesets/{version}", async (string version, IQuerySession session, CancellationToken ct) =>
            await session.LoadAsync<StoredRuleset>(version, ct) is { } stored
                ? Results.Ok(new
                {
                    version = stored.Id, stored.FileName, stored.UploadedAt, stored.UploadedBy, stored.ActivatedAt, stored.ActivatedBy, stored.Yaml,
                })
                : Results.NotFound(new { error = $"no ruleset version '{version}'" }));

        app.MapGet("/customers/{customerId}/events", async (string customerId, IQuerySession session, CancellationToken ct, int take = 50) =>
        {
            if (await session.LoadAsync<CustomerProfile>(customerId, ct) is not { } profile)
                return Results.NotFound(new { error = $"no customer '{customerId}'" });
            // Only the tail of the stream is read: a long history costs no more than a short one.
            var fromVersion = Math.Max(1, profile.Version - Math.Clamp(take, 1, 500) + 1);
            var events = await session.Events.FetchStreamAsync(customerId, fromVersion: fromVersion, token: ct);
            return Results.Ok(events.OrderByDescending(e => e.Version).Select(RecentEvent.Of).OfType<RecentEvent>());
        });
        return app;
    }

    private static async Task<ErrorQueueFigures> ErrorQueueDepths(ErrorQueues errorQueues, CancellationToken cancellationToken)
    {
        try
        {
            return new ErrorQueueFigures(await errorQueues.Depths(cancellationToken), null);
        }
        catch (RabbitMQ.Client.Exceptions.BrokerUnreachableException e)
        {
            return new ErrorQueueFigures(null, $"the broker does not answer: {e.Message}");
        }
    }

    private static async Task<IResult> Overview(
        IQuerySession session, IDocumentStore store, ActiveRuleset active, ReevaluationProgress progress, RecordedLags lags,
        ErrorQueues errorQueues, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var firstDay = today.AddDays(1 - OverviewDays);
        var current = active.Current;
        var activation = await session.LoadAsync<RulesetActivation>(RulesetActivation.DocumentId, ct);
        var stored = activation is null ? null : await session.LoadAsync<StoredRuleset>(activation.Version, ct);

        var days = await session.Query<SegmentDay>().Where(d => d.Day >= firstDay && d.Day <= today).ToListAsync(ct);
        var totals = (await session.Query<SegmentTotal>().ToListAsync(ct)).ToDictionary(t => t.Id, StringComparer.Ordinal);
        var blocked = (await session.Query<CustomerProfile>().Where(p => p.Blocked.Any()).Select(p => p.Blocked).ToListAsync(ct))
            .SelectMany(b => b)
            .GroupBy(b => (b.Segment, Reason: b.HeldBy is { } holder ? $"held by {holder}" : "cooldown"))
            .ToDictionary(g => g.Key, g => g.Count());

        var segments = current.Ruleset.Segments.Select(segment => new
        {
            segment = segment.Name,
            group = segment.Group,
            channel = segment.Channel,
            holders = totals.TryGetValue(segment.Name, out var total) ? total.Holders : 0,
            days = Enumerable.Range(0, OverviewDays).Select(firstDay.AddDays).Select(day =>
            {
                var tally = days.FirstOrDefault(d => d.Segment == segment.Name && d.Day == day);
                return new { day, entries = tally?.Entries ?? 0, exits = tally?.Exits ?? 0 };
            }),
            blocked = blocked.Where(b => b.Key.Segment == segment.Name)
                .OrderBy(b => b.Key.Reason, StringComparer.Ordinal)
                .Select(b => new { reason = b.Key.Reason, customers = b.Value }),
        });

        return Results.Ok(new
        {
            at = now,
            ruleset = new
            {
                version = current.Version,
                fileName = stored?.FileName,
                activatedBy = activation?.ActivatedBy,
                activatedAt = activation?.ActivatedAt,
            },
            reevaluation = await progress.Current(ct),
            segments,
            errorQueues = await ErrorQueueDepths(errorQueues, ct),
            relay = new { progress = await RelayHealthCheck.Progress(store, ct), lastLag = lags.Relay },
            sweeper = new { lastLag = lags.Sweeper },
        });
    }
}

/// <summary>The error queues' depths, or why the broker could not say.</summary>
internal sealed record ErrorQueueFigures(IReadOnlyList<ErrorQueueDepth>? Queues, string? Error);

/// <summary>One event of a customer's stream as the console lists it: what happened, when, with what.</summary>
public sealed record RecentEvent(long Version, string Kind, DateTimeOffset At, string Summary, DateTimeOffset StoredAt)
{
    public static RecentEvent? Of(JasperFx.Events.IEvent stored) => stored.Data switch
    {
        CustomerEventRecorded recorded => new(stored.Version, recorded.Type, recorded.OccurredAt,
            string.Join(", ", recorded.Properties.Select(p => $"{p.Key}={p.Value}")), stored.Timestamp),
        CustomerEnteredSegment entered => new(stored.Version, "entered", entered.At,
            $"{entered.Segment} (ruleset {entered.RulesetVersion})", stored.Timestamp),
        CustomerExitedSegment exited => new(stored.Version, "exited", exited.At,
            $"{exited.Segment} (ruleset {exited.RulesetVersion})", stored.Timestamp),
        CustomerEvaluated evaluated => new(stored.Version, "evaluated", evaluated.At,
            evaluated.Blocked.Count == 0 ? "nothing blocked" : "blocked: " + string.Join(", ", evaluated.Blocked.Select(b => $"{b.Segment} ({b.Reason})")),
            stored.Timestamp),
        _ => null,
    };
}
