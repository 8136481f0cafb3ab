using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Segmentation.Service.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Segmentation.Service.Tests.OperatorConsole;

/// <summary>
/// The Rulesets page in a real browser, as the operator <c>alice</c> who types her key into the page: a refused
/// candidate with its errors marked on the text, the conflict report with its example customer, a simulation with its
/// chart, and an activation followed to the end of the re-evaluation. Each test reads only what it changed, so their
/// order does not matter.
/// </summary>
public sealed class RulesetConsoleTests(ConsoleFixture console) : IClassFixture<ConsoleFixture>
{
    private static readonly string CandidatePath = ExampleRuleset.Path.Replace("ruleset.yaml", "ruleset-candidate.yaml", StringComparison.Ordinal);

    [Fact]
    public async Task A_candidate_with_an_error_is_refused_with_the_line_and_column_marked_on_its_text()
    {
        var page = await Rulesets();
        await page.FillAsync("#file-name", "bad.yaml");
        await page.FillAsync("#candidate", "segments:\n  s:\n    when: count(Purchased, 30d) >=\n");
        await page.ClickAsync("#check");

        await Expect(page.Locator("#validation h2")).ToHaveTextAsync("Refused: 1 error");
        await Expect(page.Locator("#validation-errors")).ToContainTextAsync("bad.yaml:3:");
        var caret = page.Locator("ol.source li.caret");
        await Expect(caret).ToHaveAttributeAsync("data-line", "3");
        await Expect(page.Locator("ol.source li.marked")).ToContainTextAsync("when: count(Purchased, 30d) >=");
        var column = int.Parse(await caret.GetAttributeAsync("data-column") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        // The caret stands under the column the error names.
        var text = await caret.InnerTextAsync();
        Assert.Equal(column - 1, text.IndexOf('^', StringComparison.Ordinal));
        await ConsoleFixture.Screenshot(page, "rulesets-error");
        console.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_candidate_with_a_conflict_shows_the_example_customer()
    {
        var page = await Rulesets();
        await page.SetInputFilesAsync("#candidate-file", ExampleRuleset.Path);
        await Expect(page.Locator("#file-name")).ToHaveValueAsync("ruleset.yaml");
        await page.ClickAsync("#check");

        await Expect(page.Locator("#validation-ok")).ToContainTextAsync("no errors");
        var conflict = page.Locator(".finding[data-kind='conflict']").Filter(new() { HasText = "big_spender / welcome_day_3" });
        await Expect(conflict).ToContainTextAsync("big_spender wins");
        await Expect(conflict.Locator("pre.witness")).ToContainTextAsync("\"customerId\":\"witness\"");
        await Expect(conflict.Locator("pre.witness")).ToContainTextAsync("\"type\":\"SignedUp\"");
        await ConsoleFixture.Screenshot(page, "rulesets-conflicts");

        await page.SetViewportSizeAsync(390, 844);
        Assert.False(await ConsolePagesTests.ScrollsSideways(page), "the conflict report scrolls sideways on a phone");
        console.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_simulation_against_the_active_version_shows_its_table_and_messages_per_day_chart()
    {
        var page = await Rulesets();
        await page.FillAsync("#candidate", await File.ReadAllTextAsync(CandidatePath));
        await page.ClickAsync("#simulate");

        await Expect(page.Locator("#simulation-table tr[data-segment='big_spender']")).ToBeVisibleAsync();
        var chart = page.Locator("#messages-chart svg.chart");
        await Expect(chart.Locator("polyline[data-series='email candidate']")).ToHaveCountAsync(1);
        await Expect(chart.Locator("polyline[data-series='email baseline']")).ToHaveAttributeAsync("stroke-dasharray", "6 4");
        await Expect(chart.Locator("circle").First).ToBeVisibleAsync();
        await ConsoleFixture.Screenshot(page, "rulesets-simulation");
        console.AssertNoScriptErrors();
    }

    [Fact]
    public async Task Activating_with_the_key_changes_the_version_and_the_page_follows_the_reevaluation()
    {
        var page = await Rulesets();
        await page.FillAsync("#file-name", "ruleset-candidate.yaml");
        await page.FillAsync("#candidate", await File.ReadAllTextAsync(CandidatePath));
        await page.ClickAsync("#activate");

        await Expect(page.Locator("#activation-result")).ToContainTextAsync($"activated by {ConsoleFixture.Operator}");
        var version = (await console.Web.Http.GetFromJsonAsync<JsonElement>("/rulesets/active")).GetProperty("inUse").GetString()!;
        await Expect(page.Locator("#activation-result")).ToContainTextAsync(version);
        // The sweeper re-evaluates everyone on its ticks, which follow the fake clock.
        await Eventually.Get(async () =>
        {
            console.Time.Advance(TimeSpan.FromSeconds(1));
            return await page.Locator("#reevaluation-text").InnerTextAsync();
        }, text => text.StartsWith("done", StringComparison.Ordinal), "the page to report the re-evaluation done");
        await Expect(page.Locator("#reevaluation-text")).ToHaveTextAsync($"done: every customer is evaluated with {version}");
        await Expect(page.Locator($"#versions tr[data-version='{version}']")).ToContainTextAsync("active");
        await Expect(page.Locator($"#versions tr[data-version='{version}']")).ToContainTextAsync($"{ConsoleFixture.Operator} at");

        await page.ClickAsync($"#versions tr[data-version='{version}'] button");
        await Expect(page.Locator("#version-yaml pre")).ToContainTextAsync("sum(Purchased.amount, 90d) >= 300");
        await ConsoleFixture.Screenshot(page, "rulesets-activated");

        var overview = await console.Open("/");
        await Expect(overview.Locator("#active-version")).ToHaveTextAsync(version);
        await Expect(overview.Locator("#activated-by")).ToHaveTextAsync(ConsoleFixture.Operator);
        console.AssertNoScriptErrors();
    }

    private async Task<IPage> Rulesets()
    {
        var page = await console.Open("/rulesets.html");
        await ConsoleFixture.EnterKey(page);
        return page;
    }
}
