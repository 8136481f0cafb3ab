using Marten;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Admin;

/// <summary>
/// <c>POST /rulesets/simulate</c>: the candidate ruleset (YAML body) evaluated now on every stored profile beside the
/// active ruleset, as `segctl simulate --connection` does. Read-only: profiles are streamed from a query session and
/// the engines work on copies; nothing is stored or published.
/// </summary>
public static class SimulationEndpoints
{
    public static IEndpointRouteBuilder MapSimulationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/rulesets/simulate", async (
            HttpRequest request, IQuerySession session, ActiveRuleset active, TimeProvider time, CancellationToken ct, string? fileName) =>
        {
            using var reader = new StreamReader(request.Body);
            var loaded = RulesetLoader.Load(await reader.ReadToEndAsync(ct), fileName ?? "candidate.yaml");
            if (loaded.Ruleset is not { } candidate)
                return Results.UnprocessableEntity(new { errors = loaded.Errors.Select(e => e.ToString()) });

            var report = await SimulateOnProfiles(session, candidate, Baseline(active), time.GetUtcNow(), ct);
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

    /// <summary>The ruleset in use, or none before the first activation.</summary>
    public static Ruleset? Baseline(ActiveRuleset active) => active.Current.Version == "none" ? null : active.Current.Ruleset;
}
