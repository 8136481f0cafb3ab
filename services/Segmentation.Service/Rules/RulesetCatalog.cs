using Marten;
using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Rulesets;
using Segmentation.Service.Hosting;
using Segmentation.Service.Membership;

namespace Segmentation.Service.Rules;

/// <summary>Upload and activation of rulesets, versioned in PostgreSQL with who and when.</summary>
public sealed class RulesetCatalog(IDocumentSession session, CustomerSchedule schedule, TimeProvider time, SegmentationSettings settings)
{
    /// <summary>
    /// The conflict report of a ruleset, computed on the thread pool (never on the request's thread) within
    /// <see cref="SegmentationSettings.ConflictAnalysisTimeLimit"/> (and <see cref="SegmentationSettings.ConflictAnalysisMaxPairs"/>);
    /// pairs left when it runs out are reported as
    /// <c>unknown: budget exceeded</c>. Cancelled with the request: a client that leaves stops the work.
    /// </summary>
    public Task<ConflictReport> Conflicts(Ruleset ruleset, CancellationToken cancellationToken) =>
        Task.Run(() => ConflictAnalyzer.Analyze(
            ruleset,
            new ConflictAnalysisBudget(settings.ConflictAnalysisMaxPairs, settings.ConflictAnalysisTimeLimit, time),
            cancellationToken), cancellationToken);

    /// <summary>
    /// Validates and stores a ruleset; the same content is stored once. A ruleset with a conflict in a group whose
    /// policy is <c>on_conflict: reject</c> is refused, listing the conflicts.
    /// </summary>
    public async Task<(StoredRuleset? Stored, IReadOnlyList<string> Errors)> Upload(
        string yaml, string fileName, string uploadedBy, CancellationToken cancellationToken)
    {
        var loaded = RulesetLoader.Load(yaml, fileName);
        if (loaded.Ruleset is null) return (null, [.. loaded.Errors.Select(e => e.ToString())]);
        var report = await Conflicts(loaded.Ruleset, cancellationToken);
        if (!report.Accepted)
        {
            return (null, [
                .. report.RejectedConflicts.Select(c =>
                    $"{fileName}: group {c.Group} rejects conflicts: {string.Join(" and ", c.Segments)} can hold at once: {c.Description}"),
                .. report.UnfinishedRejectingGroups.Select(group =>
                    $"{fileName}: group {group} rejects conflicts, but its analysis ran out of its budget with pairs unanalysed; "
                    + "split the group or raise Segmentation:ConflictAnalysisTimeLimit (or ConflictAnalysisMaxPairs)"),
            ]);
        }

        var version = LoadedRuleset.VersionOf(loaded.Ruleset);
        if (await session.LoadAsync<StoredRuleset>(version, cancellationToken) is { } existing) return (existing, []);

        var stored = new StoredRuleset
        {
            Id = version, FileName = fileName, Yaml = yaml, UploadedAt = time.GetUtcNow(), UploadedBy = uploadedBy,
        };
        session.Store(stored);
        await session.SaveChangesAsync(cancellationToken);
        return (stored, []);
    }

    /// <summary>
    /// Makes a stored version the active one, noting how many customers it has to re-evaluate. Every instance picks it
    /// up on its next poll and the sweepers re-evaluate the customers decided under another version.
    /// </summary>
    public async Task<StoredRuleset?> Activate(string version, string activatedBy, CancellationToken cancellationToken)
    {
        if (await session.LoadAsync<StoredRuleset>(version, cancellationToken) is not { } stored) return null;

        var now = time.GetUtcNow();
        stored.ActivatedAt = now;
        stored.ActivatedBy = activatedBy;
        session.Store(stored);
        session.Store(new RulesetActivation { Version = version, ActivatedAt = now, ActivatedBy = activatedBy });
        schedule.QueueActivation(session, version, now);
        await session.SaveChangesAsync(cancellationToken);
        return stored;
    }

    public Task<RulesetActivation?> Active(CancellationToken cancellationToken) =>
        session.LoadAsync<RulesetActivation>(RulesetActivation.DocumentId, cancellationToken);
}
