namespace Segmentation.Service.Rules;

/// <summary>An uploaded ruleset. Its id is the version that travels in every segment event.</summary>
public sealed class StoredRuleset
{
    public string Id { get; set; } = "";
    public string FileName { get; set; } = "";
    public string Yaml { get; set; } = "";
    public DateTimeOffset UploadedAt { get; set; }
    public string UploadedBy { get; set; } = "";
    public DateTimeOffset? ActivatedAt { get; set; }
    public string? ActivatedBy { get; set; }
}

/// <summary>The single pointer to the active ruleset version (document id <see cref="DocumentId"/>).</summary>
public sealed class RulesetActivation
{
    public const string DocumentId = "active";

    public string Id { get; set; } = DocumentId;
    public string Version { get; set; } = "";
    public DateTimeOffset ActivatedAt { get; set; }
    public string ActivatedBy { get; set; } = "";
}
