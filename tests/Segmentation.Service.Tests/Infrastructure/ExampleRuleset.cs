namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>The example ruleset the README uses, so the tests check what a newcomer runs.</summary>
public static class ExampleRuleset
{
    public static string Path { get; } = System.IO.Path.Combine(RepositoryRoot(), "infra", "examples", "ruleset.yaml");

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "SegmentationEvents.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("SegmentationEvents.sln not found above " + AppContext.BaseDirectory);
    }
}
