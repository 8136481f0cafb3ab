using Marten;
using Segmentation.Rules.Rulesets;
using Segmentation.Service.Membership;
using Segmentation.Service.Rules;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Admin;

/// <summary>Ruleset lifecycle over HTTP: upload (validated, versioned), list, activate.</summary>
public static class RulesetEndpoints
{
    public static IEndpointRouteBuilder MapRulesetEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/rulesets", async (HttpRequest request, RulesetCatalog catalog, CancellationToken ct, string? fileName) =>
        {
            using var reader = new StreamReader(request.Body);
            var yaml = await reader.ReadToEndAsync(ct);
            var (stored, errors) = await catalog.Upload(yaml, fileName ?? "ruleset.yaml", Caller(request), ct);
            return stored is null ? Results.UnprocessableEntity(new { errors }) : Results.Ok(Summary(stored));
        });

        app.MapPost("/rulesets/conflicts", async (HttpRequest request, RulesetCatalog catalog, CancellationToken ct, string? fileName) =>
        {
            using var reader = new StreamReader(request.Body);
            var loaded = RulesetLoader.Load(await reader.ReadToEndAsync(ct), fileName ?? "ruleset.yaml");
            if (loaded.Ruleset is null) return Results.UnprocessableEntity(new { errors = loaded.Errors.Select(e => e.ToString()) });
            var report = await catalog.Conflicts(loaded.Ruleset, ct);
            return Results.Ok(new
            {
                accepted = report.Accepted, budgetExceeded = report.BudgetExceeded, unanalysedPairs = report.UnanalysedPairs, findings = report.Findings,
            });
        });

        app.MapGet("/rulesets", async (IQuerySession session, CancellationToken ct) =>
            Results.Ok((await session.Query<StoredRuleset>().OrderByDescending(r => r.UploadedAt).ToListAsync(ct)).Select(Summary)));

        app.MapGet("/rulesets/active", async (RulesetCatalog catalog, ActiveRuleset active, ReevaluationProgress progress, CancellationToken ct) =>
            Results.Ok(new { activation = await catalog.Active(ct), inUse = active.Current.Version, reevaluation = await progress.Current(ct) }));

        app.MapPost("/rulesets/{version}/activate", async (
            string version, HttpRequest request, RulesetCatalog catalog, RulesetWatcher watcher, CancellationToken ct) =>
        {
            if (await catalog.Activate(version, Caller(request), ct) is not { } stored)
                return Results.NotFound(new { error = $"no ruleset version '{version}'" });
            await watcher.LoadActive(ct);
            return Results.Ok(Summary(stored));
        });
        return app;
    }

    private static object Summary(StoredRuleset r) =>
        new { version = r.Id, r.FileName, r.UploadedAt, r.UploadedBy, r.ActivatedAt, r.ActivatedBy };

    private static string Caller(HttpRequest request) => AdminAccess.OperatorOf(request.HttpContext);
}
