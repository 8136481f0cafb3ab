using System.CommandLine;

namespace Segmentation.Cli.Commands;

/// <summary>Where the segmentation service's admin API is and the key to use, for the commands that ask the live service.</summary>
internal sealed class AdminServiceOptions
{
    public Option<string> Service { get; } = new("--service")
    {
        Description = "admin API of the segmentation service (default: $SEGMENTATION_URL or http://127.0.0.1:5080)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SEGMENTATION_URL") ?? "http://127.0.0.1:5080",
    };

    public Option<string?> ApiKey { get; } = new("--api-key")
    {
        Description = "admin API key: needed for POSTs, and for reads unless the service opens them to this machine (default: $SEGMENTATION_API_KEY)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SEGMENTATION_API_KEY"),
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Service);
        command.Options.Add(ApiKey);
    }

    /// <summary>A client of the admin API, or null (with the reason on <paramref name="error"/>) when the URL is not one.</summary>
    public HttpClient? Connect(ParseResult parse, TextWriter error)
    {
        if (!Uri.TryCreate(parse.GetRequiredValue(Service), UriKind.Absolute, out var serviceUrl))
        {
            error.WriteLine($"segctl: --service must be an absolute URL, was '{parse.GetValue(Service)}'");
            return null;
        }

        var http = new HttpClient { BaseAddress = serviceUrl, Timeout = Timeout.InfiniteTimeSpan };
        if (parse.GetValue(ApiKey) is { Length: > 0 } key) http.DefaultRequestHeaders.Add("X-Api-Key", key);
        return http;
    }
}
