using System.CommandLine;
using System.Text.Json;
using Marten;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using Segmentation.Cli.Commands;
using Segmentation.Service.Admin;
using Segmentation.Service.OperatorConsole;
using Segmentation.Service.Hosting;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;

namespace Segmentation.Service.Tests.OperatorConsole;

/// <summary>
/// The segmentation service on real HTTP (loopback Kestrel, real RabbitMQ and PostgreSQL) with the console mapped, the
/// example history published into it with <c>segctl publish</c> and decided up to its last event, and a headless
/// Chromium (Debian's <c>chromium</c>, driven by Playwright) to look at the pages. One per test class.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    public const string Key = "console-test-key-of-alice";
    public const string Operator = "alice";
    private const string ChromiumPath = "/usr/bin/chromium";

    public static readonly string HistoryPath = Path.Combine(Path.GetDirectoryName(ExampleRuleset.Path)!, "history.jsonl");

    private readonly IsolatedServers _servers = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _scriptErrors = new();
    private IPlaywright? _playwright;

    public FakeTimeProvider Time { get; private set; } = null!;
    public LoopbackWebApp Web { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public IDocumentStore Store => Web.App.Services.GetRequiredService<IDocumentStore>();
    public DateTimeOffset HistoryEnd { get; private set; }

    public async Task InitializeAsync()
    {
        await _servers.InitializeAsync();
        var occurred = File.ReadLines(HistoryPath).Where(l => l.Trim().Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (Customer: e.GetProperty("customerId").GetString()!, At: e.GetProperty("occurredAt").GetDateTimeOffset()))
            .ToList();
        var start = occurred.Min(e => e.At);
        HistoryEnd = occurred.Max(e => e.At);
        // The clock stays at the first event while the history is published, and the accepted skew covers the history,
        // so each event is decided at its own occurrence time (as PublishedHistoryTests explains).
        Time = new FakeTimeProvider(start);
        Web = await LoopbackWebApp.Start(
            new Dictionary<string, string?>
            {
                [$"Admin:Keys:{Operator}"] = Key,
                ["Admin:OpenLoopbackReads"] = "true",
                ["Segmentation:Ingestion:MaxClockSkew"] = (HistoryEnd - start + TimeSpan.FromDays(1)).ToString(),
            },
            builder =>
            {
                builder.Services.AddSingleton<TimeProvider>(Time);
                builder.Services.AddSegmentationService(
                    new SegmentationSettings(_servers.RabbitMqUrl, _servers.PostgresConnection, _servers.SchemaName)
                    {
                        RulesetPath = ExampleRuleset.Path,
                        ConflictAnalysisMaxPairs = 5_000, // the fake clock never runs the time budget out
                    },
                    builder.Configuration);
            },
            app =>
            {
                app.MapAdminApi();
                app.MapConsole();
            });
        await Web.App.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));

        Segctl("publish", "--events", HistoryPath, "--rabbitmq", _servers.RabbitMqUrl.ToString());
        foreach (var customer in occurred.GroupBy(e => e.Customer))
        {
            await Eventually.Get(async () => (await StoredEventCount(customer.Key)), n => n == customer.Count(), $"{customer.Count()} events of {customer.Key} stored");
        }

        Time.SetUtcNow(HistoryEnd);
        await Eventually.Get(Profiles, ps => ps.All(p => p.NextCheckAt is null || p.NextCheckAt > HistoryEnd), "every customer evaluated up to the history's end");
        await Eventually.Get(async () => (await Profiles(), await Totals()),
            state => HoldersByProfile(state.Item1).All(h => state.Item2.GetValueOrDefault(h.Key) == h.Value),
            "the daily tally caught up with the log");

        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"No Chromium at {ChromiumPath}: `bash infra/start.sh --with-browser` installs Debian's chromium");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true });
    }

    public async Task<IReadOnlyList<CustomerProfile>> Profiles()
    {
        await using var session = Store.QuerySession();
        return await session.Query<CustomerProfile>().ToListAsync();
    }

    public static Dictionary<string, int> HoldersByProfile(IEnumerable<CustomerProfile> profiles) =>
        profiles.SelectMany(p => p.Segments.Keys).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());

    private async Task<Dictionary<string, int>> Totals()
    {
        await using var session = Store.QuerySession();
        return (await session.Query<SegmentTotal>().ToListAsync()).ToDictionary(t => t.Id, t => t.Holders);
    }

    private async Task<int> StoredEventCount(string customerId)
    {
        await using var session = Store.QuerySession();
        return (await session.Events.FetchStreamAsync(customerId)).Count(e => e.Data is Segmentation.Service.Ingestion.CustomerEventRecorded);
    }

    /// <summary>A new page on the console at a laptop's size (or the given one).</summary>
    public async Task<IPage> Open(string path, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Web.Http.BaseAddress!.ToString(), ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => _scriptErrors.Enqueue($"{path}: {error}");
        // What the content security policy refuses is only an event in the page: the init script (run by the browser,
        // outside the policy) reports it on the console.
        await page.AddInitScriptAsync(
            "document.addEventListener('securitypolicyviolation', e => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))");
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && message.Text.StartsWith("CSP violation", StringComparison.Ordinal)) _scriptErrors.Enqueue($"{path}: {message.Text}");
        };
        await page.GotoAsync(path);
        return page;
    }

    /// <summary>No page opened so far threw from its scripts or had something refused by its content security policy.</summary>
    public void AssertNoScriptErrors() => Assert.Empty(_scriptErrors);

    /// <summary>Types the admin key into the header's field and submits it with the keyboard.</summary>
    public static async Task EnterKey(IPage page)
    {
        await page.FillAsync("#admin-key", Key);
        await page.PressAsync("#admin-key", "Enter");
        await Assertions.Expect(page.Locator("#key-state")).ToHaveTextAsync("key set for this tab");
    }

    /// <summary>
    /// Saves a full-page screenshot: into <c>SEGMENTATION_CONSOLE_SCREENSHOTS</c> (the README's pictures are taken with
    /// <c>SEGMENTATION_CONSOLE_SCREENSHOTS=docs/console</c>), else beside the test assembly.
    /// </summary>
    public static async Task Screenshot(IPage page, string name)
    {
        var directory = Environment.GetEnvironmentVariable("SEGMENTATION_CONSOLE_SCREENSHOTS") is { Length: > 0 } configured
            ? Path.GetFullPath(configured, RepositoryRoot)
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, name + ".png"), FullPage = true });
    }

    private static string RepositoryRoot => Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(ExampleRuleset.Path)))!;

    private static void Segctl(params string[] arguments)
    {
        var error = new StringWriter();
        var exit = SegctlCommand.Create().Parse(arguments).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.True(exit == 0, $"segctl {arguments[0]} exited {exit}: {error}");
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (Web is not null) await Web.DisposeAsync();
        await _servers.DisposeAsync();
    }
}
