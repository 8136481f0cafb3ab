using Marten;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Admin;

/// <summary>
/// <c>POST /rulesets/simulate</c>: a candidate ruleset beside a baseline, with no side effects, as `segctl simulate
/// --service` asks for it. The body is the candidate's YAML (the baseline is then the active ruleset) or JSON
/// <c>{"candidate": YAML, "baseline": YAML}</c>. Without <c>from</c> it is a snapshot: the candidate evaluated now on every
/// stored profile; with <c>from</c> (and <c>to</c>, default now), or <c>days</c> (the last N days to now), a replay of every
/// customer's stored stream, with the figures per day the console charts. Read-only:
/// profiles and events are streamed from a query session and the engines work on copies; nothing is stored or published.
/// </summary>
public static class SimulationEndpoints
{
    public static IEndpointRouteBuilder MapSimulationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/rulesets/simulate", async (
            HttpRequest request, IQuerySession session, ActiveRuleset active, TimeProvider time, CancellationToken ct,
            string? fileName, DateTimeOffset? from, DateTimeOffset? to, int? days) =>
        {
            var body = await Body(request, ct);
            if (body is null) return Results.BadRequest(new { error = "a JSON body must be {\"candidate\": YAML, \"baseline\": YAML or null}" });
            var loaded = RulesetLoader.Load(body.Candidate, fileName ?? "candidate.yaml");
            if (loaded.Ruleset is not { } candidate)
                return Results.UnprocessableEntity(new { errors = loaded.Errors.Select(e => e.ToString()) });
            var baseline = Baseline(active);
            if (body.Baseline is { } baselineYaml)
            {
                var loadedBaseline = RulesetLoader.Load(baselineYaml, "baseline.yaml");
                if (loadedBaseline.Ruleset is null)
                    return Results.UnprocessableEntity(new { errors = loadedBaseline.Errors.Select(e => e.ToString()) });
                baseline = loadedBaseline.Ruleset;
            }

            var now = time.GetUtcNow();
            if (days is { } lastDays)
            {
                if (from is not null || to is not null) return Results.BadRequest(new { error = "give days or from/to, not both" });
                if (lastDays is < 1 or > 3660) return Results.BadRequest(new { error = "days must be between 1 and 3660" });
                (from, to) = (now.AddDays(-lastDays), now);
            }

            if (from is null && to is not null) return Results.BadRequest(new { error = "a replay needs from (to defaults to now)" });
            if (from > (to ?? now)) return Results.BadRequest(new { error = "from is after to" });
            var report = from is { } start
                ? await ReplayEventLog(session, candidate, baseline, start, to ?? now, ct)
                : await SimulateOnProfiles(session, candidate, baseline, now, ct);
            return Results.Text(report.ToJson(), "application/json");
        });
        return app;
    }

    /// <summary>Snapshot simulation over the stored profiles, streamed (Marten reads them through one data reader).</summary>
    public static Task<SimulationReport> SimulateOnProfiles(
        IQuerySession session, Ruleset candidate, Ruleset? baseline, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var profiles = QueryableExtensions.ToAsyncEnumerable(session.Query<CustomerProfile>(), cancellationToken).Select(p => p.State);
        // A candidate that reads more than the profiles keep sees each such customer's whole stream.
        return RulesetSimulation.Simulate(candidate, baseline,
            new SnapshotScope(profiles, now, (customerId, ct) => CustomerStreams.Of(session, customerId, ct)), cancellationToken: cancellationToken);
    }

    /// <summary>Replay (backtest) of every customer's stored events from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static Task<SimulationReport> ReplayEventLog(
        IQuerySession session, Ruleset candidate, Ruleset? baseline, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        RulesetSimulation.Simulate(candidate, baseline, new ReplayScope(CustomerStreams.All(session, cancellationToken), from, to),
            cancellationToken: cancellationToken);

    /// <summary>The ruleset in use, or none before the first activation.</summary>
    public static Ruleset? Baseline(ActiveRuleset active) => active.Current.Version == "none" ? null : active.Current.Ruleset;

    private sealed record SimulationRequest(string Candidate, string? Baseline);

    private static async Task<SimulationRequest?> Body(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.HasJsonContentType())
        {
            try
            {
                return await request.ReadFromJsonAsync<SimulationRequest>(cancellationToken) is { Candidate: not null } json ? json : null;
            }
            catch (System.Text.Json.JsonException)
            {
                return null;
            }
        }

        using var reader = new StreamReader(request.Body);
        return new SimulationRequest(await reader.ReadToEndAsync(cancellationToken), null);
    }
}
