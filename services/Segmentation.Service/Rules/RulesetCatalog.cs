using Marten;
using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Service.Rules;

/// <summary>Upload and activation of rulesets, versioned in PostgreSQL with who and when.</summary>
public sealed class RulesetCatalog(IDocumentSession session, TimeProvider time)
{
    /// <summary>
    /// Validates and stores a ruleset; the same content is stored once. A ruleset with a conflict in a group whose
    /// policy is <c>on_conflict: reject</c> is refused, listing the conflicts.
    /// </summary>
    public async Task<(StoredRuleset? Stored, IReadOnlyList<string> Errors)> Upload(
        string yaml, string fileName, string uploadedBy, CancellationToken cancellationToken)
    {
        var loaded = RulesetLoader.Load(yaml, fileName);
        if (loaded.Ruleset is null) return (null, [.. loaded.Errors.Select(e => e.ToString())]);
        var rejected = ConflictAnalyzer.Analyze(loaded.Ruleset, cancellationToken: cancellationToken).RejectedConflicts;
        if (rejected.Count > 0)
        {
            return (null, [.. rejected.Select(c =>
                $"{fileName}: group {c.Group} rejects conflicts: {string.Join(" and ", c.Segments)} can hold at once: {c.Description}")]);
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

    /// <summary>Makes a stored version the active one. Every instance picks it up on its next poll.</summary>
    public async Task<StoredRuleset?> Activate(string version, string activatedBy, CancellationToken cancellationToken)
    {
        if (await session.LoadAsync<StoredRuleset>(version, cancellationToken) is not { } stored) return null;

        var now = time.GetUtcNow();
        stored.ActivatedAt = now;
        stored.ActivatedBy = activatedBy;
        session.Store(stored);
        session.Store(new RulesetActivation { Version = version, ActivatedAt = now, ActivatedBy = activatedBy });
        await session.SaveChangesAsync(cancellationToken);
        return stored;
    }

    public Task<RulesetActivation?> Active(CancellationToken cancellationToken) =>
        session.LoadAsync<RulesetActivation>(RulesetActivation.DocumentId, cancellationToken);
}
