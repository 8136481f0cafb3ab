using Marten;
using Segmentation.Rules.Rulesets;
using Segmentation.Service.Hosting;

namespace Segmentation.Service.Rules;

/// <summary>
/// Keeps <see cref="ActiveRuleset"/> equal to the version activated in PostgreSQL. At first start, with nothing
/// activated yet, the file named by <c>Segmentation:RulesetPath</c> is uploaded and activated. Customers evaluated
/// with another version are picked up by the sweeper, so a new activation re-evaluates everyone in the background
/// without blocking ingestion, and resumes after a restart.
/// </summary>
public sealed class RulesetWatcher(
    IServiceScopeFactory scopes, ActiveRuleset active, SegmentationSettings settings, TimeProvider time, ILogger<RulesetWatcher> logger)
    : BackgroundService
{
    public async Task LoadActive(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalog = scope.ServiceProvider.GetRequiredService<RulesetCatalog>();
        var activation = await catalog.Active(cancellationToken);
        if (activation is null && settings.RulesetPath is { } path)
        {
            var (stored, errors) = await catalog.Upload(await File.ReadAllTextAsync(path, cancellationToken), path, "configuration", cancellationToken);
            if (stored is null)
                throw new InvalidOperationException($"The configured ruleset is invalid:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
            await catalog.Activate(stored.Id, "configuration", cancellationToken);
            activation = await catalog.Active(cancellationToken);
        }

        if (activation is null || activation.Version == active.Current.Version) return;

        var session = scope.ServiceProvider.GetRequiredService<IQuerySession>();
        var storedRuleset = await session.LoadAsync<StoredRuleset>(activation.Version, cancellationToken)
            ?? throw new InvalidOperationException($"Active ruleset version {activation.Version} is not stored");
        var ruleset = RulesetLoader.Load(storedRuleset.Yaml, storedRuleset.FileName).Ruleset
            ?? throw new InvalidOperationException($"Stored ruleset {activation.Version} no longer loads");
        active.Replace(LoadedRuleset.From(ruleset, activation.Version));
        logger.LogInformation("Ruleset {Version} ({Segments} segments) active, activated by {ActivatedBy} at {ActivatedAt}",
            activation.Version, ruleset.Segments.Count, activation.ActivatedBy, activation.ActivatedAt);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.RulesetPollInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await LoadActive(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Could not load the active ruleset; keeping {Version}", active.Current.Version);
            }
        }
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await LoadActive(cancellationToken);
        await base.StartAsync(cancellationToken);
    }
}
